"""Team settings: the team's chat channels (Slack, Microsoft Teams) and its last deliveries.
Only the team's leads and superusers (permissions.py); the webhook URL is shown masked."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.permissions import member_required
from releaseportal.errors import PortalError

from .forms import ChannelForm
from .permissions import get_channel_for_team, get_team_for_chat, teams_managed_by
from .selectors import channels_of, recent_deliveries
from .services import chat_channel_create, chat_channel_delete, chat_channel_update


def _refusal_to_form(form: ChannelForm, exc: PortalError) -> None:
    if not exc.fields:
        form.add_error(None, exc.message)
    for name, problems in exc.fields.items():
        form.add_error(name if name in form.fields else None, problems)


@member_required
def team_list(request):
    return render(request, "notifications/team_list.html", {"teams": teams_managed_by(request.user)})


@member_required
@require_http_methods(["GET", "POST"])
def team_settings(request, slug: str):
    team = get_team_for_chat(request.user, slug)
    form = ChannelForm(request.POST or None, prefix="new")
    if request.method == "POST" and form.is_valid():
        try:
            channel = chat_channel_create(team=team, actor=request.user, **form.cleaned_data)
        except PortalError as exc:
            _refusal_to_form(form, exc)
        else:
            messages.success(request, f"Channel {channel.name} added.")
            return redirect("notifications:team_settings", slug=team.slug)
    return render(request, "notifications/team_settings.html", {
        "team": team, "channels": channels_of(team), "deliveries": recent_deliveries(team), "form": form,
    }, status=400 if form.errors else 200)


@member_required
@require_http_methods(["GET", "POST"])
def channel_edit(request, slug: str, pk: int):
    team = get_team_for_chat(request.user, slug)
    channel = get_channel_for_team(team, pk)
    initial = {"kind": channel.kind, "name": channel.name, "events": channel.events, "enabled": channel.enabled}
    form = ChannelForm(request.POST or None, initial=initial, editing=channel)
    if request.method == "POST" and form.is_valid():
        try:
            chat_channel_update(channel=channel, actor=request.user, **form.cleaned_data)
        except PortalError as exc:
            _refusal_to_form(form, exc)
        else:
            messages.success(request, f"Channel {form.cleaned_data['name']} saved.")
            return redirect("notifications:team_settings", slug=team.slug)
    return render(request, "notifications/channel_edit.html", {"team": team, "channel": channel, "form": form},
                  status=400 if form.errors else 200)


@member_required
@require_POST
def channel_delete(request, slug: str, pk: int):
    team = get_team_for_chat(request.user, slug)
    channel = get_channel_for_team(team, pk)
    chat_channel_delete(channel=channel, actor=request.user)
    messages.success(request, f"Channel {channel.name} removed.")
    return redirect("notifications:team_settings", slug=team.slug)
