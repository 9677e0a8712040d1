"""The base of every API view: the `Idempotency-Key` behaviour of API.md, implemented once.

A POST carrying `Idempotency-Key` reserves the key for its caller before the view runs (a
unique row, so two simultaneous retries cannot both create). A successful response is stored
with the request fingerprint; a repeat with the same body gets the stored response and creates
nothing, a repeat with another body gets 409 `idempotency_key_reused`. A failed request frees
the key so the client may retry it — a 4xx, a 5xx answered by the handler, and an unhandled
exception alike; a reservation left behind by a request that died without answering (worker
killed, database gone) is treated as abandoned after IDEMPOTENCY_ABANDONED_AFTER.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from releaseportal.errors import Conflict, InvalidInput

IDEMPOTENCY_HEADER = "HTTP_IDEMPOTENCY_KEY"
# No API request runs this long (gunicorn's timeout is shorter): a reservation still unanswered
# after it belongs to a request that died, and must not block the client's retry for 24 hours.
IDEMPOTENCY_ABANDONED_AFTER = timedelta(minutes=2)

logger = logging.getLogger(__name__)


class _Replay(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def request_fingerprint(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0")
    digest.update(request.path.encode())
    digest.update(b"\0")
    digest.update(getattr(request, "_request", request).body)
    return digest.hexdigest()


class IdempotentMixin:
    """Mix into any DRF view; only POST requests with the header are affected."""

    _idempotency_record = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.META.get(IDEMPOTENCY_HEADER)
        if request.method != "POST" or not key:
            return
        from apps.accounts.models import IdempotencyRecord

        if len(key) > 200:
            raise InvalidInput("Idempotency-Key is longer than 200 characters.",
                               fields={"Idempotency-Key": ["At most 200 characters."]})
        # Reading the body here caches it, so the parsers still see it afterwards.
        fingerprint = request_fingerprint(request)
        try:
            with transaction.atomic():
                self._idempotency_record = IdempotencyRecord.objects.create(
                    user=request.user, key=key, fingerprint=fingerprint, method=request.method, path=request.path
                )
            return
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
        if existing is None:  # freed by a failed attempt in between: treat as a conflict to retry
            raise Conflict("A request with this Idempotency-Key is being processed; retry.",
                           code="idempotency_request_in_progress")
        if existing.fingerprint != fingerprint:
            raise Conflict("This Idempotency-Key was used with a different request.",
                           code="idempotency_key_reused")
        if existing.status_code is None and existing.created_at < timezone.now() - IDEMPOTENCY_ABANDONED_AFTER:
            # Abandoned by a request that died: take the reservation over (only one retry wins).
            taken = IdempotencyRecord.objects.filter(pk=existing.pk, status_code__isnull=True,
                                                     created_at=existing.created_at).update(created_at=timezone.now())
            if taken:
                existing.refresh_from_db()
                self._idempotency_record = existing
                return
        if existing.status_code is None:
            raise Conflict("A request with this Idempotency-Key is being processed; retry.",
                           code="idempotency_request_in_progress")
        replay = Response(existing.response_body, status=existing.status_code)
        replay["Idempotent-Replayed"] = "true"
        raise _Replay(replay)

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            return exc.response
        try:
            return super().handle_exception(exc)
        except Exception:
            # Unhandled (a bug: 500 from handler500): finalize_response never runs, so free the
            # key here or the client's retry is refused as "in progress".
            self._release_idempotency_key()
            raise

    def _release_idempotency_key(self) -> None:
        record, self._idempotency_record = self._idempotency_record, None
        if record is None:
            return
        try:
            record.delete()
        except Exception:  # noqa: BLE001 — database down: the reservation expires as abandoned
            logger.warning("could not release Idempotency-Key %s; it expires as abandoned", record.key)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record = self._idempotency_record
        if record is not None:
            if 200 <= response.status_code < 300:
                self._idempotency_record = None
                record.status_code = response.status_code
                record.response_body = json.loads(json.dumps(response.data, default=str))
                record.save(update_fields=["status_code", "response_body"])
            else:  # 4xx and 5xx (503 while the database is down included) free the key
                self._release_idempotency_key()
        return response


class PortalAPIView(IdempotentMixin, APIView):
    """One operation per view (STYLE.md): input and output serializers live beside it."""


class PortalListAPIView(IdempotentMixin, generics.ListAPIView):
    pass


class PortalRetrieveAPIView(IdempotentMixin, generics.RetrieveAPIView):
    pass
