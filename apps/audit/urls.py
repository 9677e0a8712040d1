from django.urls import path

from . import views

urlpatterns = [
    path("audit/log/", views.audit_log, name="log"),
    path("audit/log.csv", views.audit_log_csv, name="log_csv"),
    path("audit/log/verify/", views.chain_verify, name="chain_verify"),
    path("audit/log/verification/", views.chain_verification_status, name="chain_status"),
    path("audit/", views.workspace, name="workspace"),
    path("audit/packs/", views.pack_request, name="pack_request"),
    path("audit/packs/form/", views.pack_form_fragment, name="pack_form"),
    path("audit/packs/table/", views.pack_list_fragment, name="pack_table"),
    path("audit/packs/<int:pk>/download/", views.pack_download, name="pack_download"),
    path("audit/archives/<int:pk>/download/", views.archive_download, name="archive_download"),
    path("audit/keys/", views.signing_keys, name="keys"),
    path("audit/retention/", views.retention_policies, name="retention"),
    path("audit/holds/", views.legal_holds, name="holds"),
    path("audit/holds/<int:pk>/release/", views.legal_hold_release_view, name="hold_release"),
    path("audit/archived/<int:pk>/export/", views.archived_record_export_view, name="archived_export"),
]
