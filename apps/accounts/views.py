from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from releaseportal.errors import PortalError

from .forms import ApiTokenForm, ThrottledAuthenticationForm
from .models import ApiToken
from .services import api_token_create, api_token_revoke


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
                  {"form": form, "tokens": tokens, "new_token": new_token, "teams": teams})


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = ApiToken.objects.filter(pk=pk, user=request.user).first()
    if token is None:
        raise Http404
    api_token_revoke(token=token, actor=request.user, reason="revoked by owner")
    messages.success(request, f"Token {token.prefix}… revoked.")
    return redirect("accounts:profile")
