"""Pages of the improvement loop: retrospectives with their action items, and the form support
and operations use to file what users reported against a release."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render

from apps.accounts.permissions import member_required
from releaseportal.errors import PortalError

from . import retros
from .models import Release, UserIssue
from .retros_api import retrospectives_list


@member_required
def retro_list(request):
    return render(request, "releases/retro_list.html", {"retrospectives": retrospectives_list()[:100]})


class UserIssueForm(forms.Form):
    title = forms.CharField(max_length=200, label="What users reported")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    channel = forms.ChoiceField(choices=UserIssue.Channel.choices, label="Filed by")
    impact = forms.ChoiceField(choices=UserIssue.Impact.choices, initial=UserIssue.Impact.MEDIUM)
    customer_reference = forms.CharField(max_length=100, required=False, label="Support ticket")
    service = forms.ChoiceField(required=False, label="Service (if known)")

    def __init__(self, *args, release: Release, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].choices = [("", "—"), *((s.pk, s.slug) for s in release.services.order_by("slug"))]


@member_required
def user_issue_new(request, pk: int):
    release = Release.objects.filter(pk=pk).first()
    if release is None:
        raise Http404("No such release.")
    if not retros.can_file_issue(request.user):
        raise PermissionDenied("You cannot file user issues.")
    form = UserIssueForm(request.POST or None, release=release)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        service_id = data.pop("service")
        service = release.services.filter(pk=service_id).first() if service_id else None
        try:
            issue = retros.user_issue_file(release=release, service=service, actor=request.user, **data)
        except PortalError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Issue filed against {release.name}: {issue.title}.")
            return redirect("releases:detail", pk=release.pk)
    return render(request, "releases/retro_issue_form.html", {"form": form, "release": release})
