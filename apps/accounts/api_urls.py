from django.urls import path

from . import api

urlpatterns = [path("tokens/", api.TokenListCreateApi.as_view(), name="api-tokens")]
