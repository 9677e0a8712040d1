from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from releaseportal.api.views import PortalAPIView

from .models import ApiToken
from .roles import SCOPES
from .services import api_token_create


class TokenIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=sorted(SCOPES)), required=False)
    expires_in_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)


class TokenOut(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "scopes", "created_at", "expires_at", "revoked_at", "last_used_at", "parent"]


class TokenCreatedOut(TokenOut):
    token = serializers.CharField(help_text="Shown once; only its hash is stored")

    class Meta(TokenOut.Meta):
        fields = [*TokenOut.Meta.fields, "token"]


@extend_schema(tags=["accounts"])
class TokenListCreateApi(PortalAPIView):
    """Your own API tokens. A token minted with a token holds at most its scopes, expires no
    later than it and is revoked with it."""

    required_scopes = {"GET": "catalog:read", "POST": "catalog:read"}

    @extend_schema(summary="List your tokens", responses=TokenOut(many=True))
    def get(self, request):
        return Response(TokenOut(ApiToken.objects.filter(user=request.user), many=True).data)

    @extend_schema(summary="Create a token (shown once)", request=TokenIn, responses={201: TokenCreatedOut})
    def post(self, request):
        data = TokenIn(data=request.data)
        data.is_valid(raise_exception=True)
        # Minted with a token: the service keeps the child within its parent's scopes and life.
        parent = request.auth if isinstance(request.auth, ApiToken) else None
        token, raw = api_token_create(user=request.user, actor=request.user, name=data.validated_data["name"],
                                      scopes=data.validated_data.get("scopes"), parent=parent,
                                      expires_in_days=data.validated_data.get("expires_in_days"))
        body = TokenOut(token).data
        body["token"] = raw
        return Response(body, status=status.HTTP_201_CREATED)
