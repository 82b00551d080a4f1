from django.urls import path

from . import api, sharing, templates_api, templates_views, views

api_urlpatterns = [
    path("workflows", api.WorkflowListView.as_view(), name="api-workflows"),
    path("workflows/<str:workflow_id>", api.WorkflowDetailView.as_view(), name="api-workflow"),
    path("workflows/<str:workflow_id>/history", api.HistoryView.as_view(), name="api-workflow-history"),
    path("workflows/<str:workflow_id>/participants", api.ParticipantsView.as_view(), name="api-workflow-participants"),
    path(
        "workflows/<str:workflow_id>/participants/<str:email>",
        api.ParticipantDetailView.as_view(),
        name="api-workflow-participant",
    ),
    path("workflows/<str:workflow_id>/messages", api.MessagesView.as_view(), name="api-workflow-messages"),
    path(
        "workflows/<str:workflow_id>/messages/<str:message_id>",
        api.MessageDetailView.as_view(),
        name="api-workflow-message",
    ),
    path("workflows/<str:workflow_id>/media", api.MediaUploadView.as_view(), name="api-workflow-media"),
    path("workflows/<str:workflow_id>/events", api.CustomEventView.as_view(), name="api-workflow-events"),
    path("workflows/<str:workflow_id>/read_state", api.ReadStateView.as_view(), name="api-workflow-read-state"),
    path("read_states", api.ReadStatesView.as_view(), name="api-read-states"),
    path(
        "tenants/<str:tenant_id>/workflow_templates",
        templates_api.WorkflowTemplateListView.as_view(),
        name="api-workflow-templates",
    ),
    path(
        "tenants/<str:tenant_id>/workflow_templates/<str:template_id>",
        templates_api.WorkflowTemplateDetailView.as_view(),
        name="api-workflow-template",
    ),
]

page_urlpatterns = [
    path("share/<str:token>", sharing.shared_file, name="share"),
    path("share/<str:token>/thumbnail", sharing.shared_thumbnail, name="share_thumbnail"),
    path("", views.home, name="home"),
    path("workflows/", views.workflow_list, name="workflow_list"),
    path("workflows/<str:workflow_id>/", views.workflow_detail, name="workflow_detail"),
    path("workflows/<str:workflow_id>/messages/", views.post_message, name="workflow_post_message"),
    path("workflows/<str:workflow_id>/messages/<str:message_id>/edit/", views.edit_message, name="workflow_edit_message"),
    path(
        "workflows/<str:workflow_id>/messages/<str:message_id>/delete/",
        views.delete_message,
        name="workflow_delete_message",
    ),
    path("workflows/<str:workflow_id>/upload/", views.upload_file, name="workflow_upload"),
    path("workflows/<str:workflow_id>/messages/earlier/", views.earlier_messages, name="workflow_earlier_messages"),
    path("workflows/<str:workflow_id>/read_state/", views.change_read_state, name="workflow_read_state"),
    path("workflows/<str:workflow_id>/participants/", views.add_participant, name="workflow_add_participant"),
    path(
        "workflows/<str:workflow_id>/participants/remove/",
        views.remove_participant,
        name="workflow_remove_participant",
    ),
    path("workflows/<str:workflow_id>/status/", views.change_status, name="workflow_change_status"),
    path("workflows/<str:workflow_id>/delete/", views.delete_workflow, name="workflow_delete"),
    path("tenants/<str:tenant_id>/workflow_templates/", templates_views.template_list, name="workflow_templates"),
    path(
        "tenants/<str:tenant_id>/workflow_templates/<str:template_id>/",
        templates_views.template_edit,
        name="workflow_template_edit",
    ),
    path(
        "tenants/<str:tenant_id>/workflow_templates/<str:template_id>/delete/",
        templates_views.template_delete,
        name="workflow_template_delete",
    ),
]
