from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from releaseportal.errors import PortalError

from .forms import ApiTokenForm, ThrottledAuthenticationForm
from .models import ApiToken
from .services import api_token_create, api_token_revoke, time_zone_choices, user_time_zone_set


class LoginView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True


@login_required
def profile(request):
    """Your account: roles, teams and your API tokens (create, revoke)."""
    form = ApiTokenForm(request.POST or None, user=request.user)
    new_token = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_token = api_token_create(
                user=request.user, actor=request.user, name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"] or None, expires_in_days=form.cleaned_data["expires_in_days"],
            )
            form = ApiTokenForm(user=request.user)
        except PortalError as exc:
            form.add_error(None, exc.message)
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at")
    teams = request.user.memberships.select_related("team")
    return render(request, "accounts/profile.html",
                  {"form": form, "tokens": tokens, "new_token": new_token, "teams": teams,
                   "time_zones": time_zone_choices(), "default_time_zone": settings.TIME_ZONE})


@login_required
@require_POST
def time_zone_set(request):
    """The timezone you read times in (the profile's picker)."""
    try:
        user_time_zone_set(user=request.user, time_zone=request.POST.get("time_zone", ""), actor=request.user)
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:profile")
    chosen = request.user.time_zone or f"the portal's default ({settings.TIME_ZONE})"
    messages.success(request, f"Times are now shown in {chosen}.")
    return redirect("accounts:profile")


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = ApiToken.objects.filter(pk=pk, user=request.user).first()
    if token is None:
        raise Http404
    api_token_revoke(token=token, actor=request.user, reason="revoked by owner")
    messages.success(request, f"Token {token.prefix}… revoked.")
    return redirect("accounts:profile")
