from django.urls import path

from . import views, views_calendar, views_schedule

urlpatterns = [
    path("changes/", views.change_list, name="list"),
    path("changes/queue/", views.queue, name="queue"),
    path("changes/mine/", views.my_changes, name="mine"),
    path("changes/queue/approve/", views.queue_bulk_approve, name="queue_bulk_approve"),
    path("changes/<str:ref>/ask/", views.change_ask, name="ask"),
    path("changes/<str:ref>/answer/", views.change_answer, name="answer"),
    path("changes/new/", views.change_create, name="create"),
    path("changes/calendar/", views_calendar.calendar_month, name="calendar"),
    path("changes/calendar/feed/", views_calendar.calendar_feed_manage, name="calendar_feed_manage"),
    path("changes/calendar/feed/<str:secret>.ics", views_calendar.calendar_feed, name="calendar_feed"),
    path("changes/schedule/", views_schedule.schedule, name="schedule"),
    path("changes/schedule/windows/<int:pk>/", views_schedule.window_edit, name="window_edit"),
    path("changes/schedule/freezes/<int:pk>/", views_schedule.freeze_edit, name="freeze_edit"),
    path("changes/delegations/", views_schedule.delegations, name="delegations"),
    path("changes/delegations/<int:pk>/revoke/", views_schedule.delegation_revoke, name="delegation_revoke"),
    path("changes/cab/", views_schedule.cab_meetings, name="cab_meetings"),
    path("changes/cab/<int:pk>/", views_schedule.cab_meeting, name="cab_meeting"),
    path("changes/<str:ref>/", views.change_detail, name="detail"),
    path("changes/<str:ref>/edit/", views.change_edit, name="edit"),
    path("changes/<str:ref>/submit/", views.change_submit, name="submit"),
    path("changes/<str:ref>/move/", views.change_move, name="move"),
    path("changes/<str:ref>/decide/", views.change_decide, name="decide"),
    path("changes/<str:ref>/override/", views.change_override, name="override"),
    path("changes/<str:ref>/post-mortem/", views.change_post_mortem, name="post_mortem"),
]
