"""The JSON bodies of the two incoming-webhook formats, from a delivery's stored message.

Slack: `text` (the notification's fallback) and Block Kit `blocks` (a section with the linked
title, the facts as fields, a context line with the event). Microsoft Teams: a message with one
Adaptive Card attachment (version 1.4), which both the Workflows webhooks ("Post to a channel
when a webhook request is received") and the older Office 365 connector webhooks accept."""

from __future__ import annotations

from typing import Any

from .models import ChatChannel, ChatDelivery, ChatEvent

SLACK_FIELDS_MAX = 10  # Block Kit allows at most 10 fields in a section


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn control characters; everything else is shown as typed.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(delivery: ChatDelivery) -> dict[str, Any]:
    title = _slack_escape(delivery.title)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*<{delivery.link}|{title}>*"
                                     + (f"\n{_slack_escape(delivery.text)}" if delivery.text else "")}},
    ]
    if delivery.facts:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{_slack_escape(str(label))}*\n{_slack_escape(str(value))}"}
            for label, value in delivery.facts[:SLACK_FIELDS_MAX]]})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"Release Portal · {ChatEvent(delivery.event).label}"}]})
    return {"text": f"{delivery.title} {delivery.link}", "blocks": blocks}


def teams_payload(delivery: ChatDelivery) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": delivery.title, "weight": "Bolder", "size": "Medium", "wrap": True},
    ]
    if delivery.text:
        body.append({"type": "TextBlock", "text": delivery.text, "wrap": True})
    if delivery.facts:
        body.append({"type": "FactSet", "facts": [{"title": str(label), "value": str(value)}
                                                  for label, value in delivery.facts]})
    body.append({"type": "TextBlock", "text": f"Release Portal · {ChatEvent(delivery.event).label}",
                 "isSubtle": True, "size": "Small", "wrap": True})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open in Release Portal", "url": delivery.link}],
    }
    return {"type": "message", "summary": delivery.title[:150],
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
                             "content": card}]}


def payload_for(kind: str, delivery: ChatDelivery) -> dict[str, Any]:
    if kind == ChatChannel.Kind.SLACK:
        return slack_payload(delivery)
    if kind == ChatChannel.Kind.TEAMS:
        return teams_payload(delivery)
    raise ValueError(f"unknown channel kind {kind!r}")
