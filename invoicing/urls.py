from django.urls import path

from invoicing import views

app_name = "invoicing"
urlpatterns = [
    path("", views.invoice_list, name="list"),
    path("new/", views.invoice_create, name="create"),
    path("send/", views.invoice_bulk_send, name="bulk_send"),
    path("form/totals/", views.invoice_form_totals, name="form_totals"),
    path("form/line/", views.invoice_form_line, name="form_line"),
    path("form/routing/", views.invoice_form_routing, name="form_routing"),
    path("<int:pk>/", views.invoice_detail, name="detail"),
    path("<int:pk>/edit/", views.invoice_edit, name="edit"),
    path("<int:pk>/send/", views.invoice_send, name="send"),
    path("<int:pk>/progress/", views.invoice_progress, name="progress"),
    path("<int:pk>/print/", views.invoice_print, name="print"),
    path("<int:pk>/legal/", views.invoice_legal_view, name="legal_view"),
    path("<int:pk>/legal.xml", views.invoice_legal_xml, name="legal_xml"),
    path("<int:pk>/fix/", views.invoice_fix, name="fix"),
    path("<int:pk>/credit-note/", views.invoice_credit_note, name="credit_note"),
    path("<int:pk>/replace/", views.invoice_replace, name="replace"),
    path("<int:pk>/attachments/", views.attachment_add, name="attachment_add"),
    path("<int:pk>/attachments/<int:attachment_pk>/", views.attachment_download,
         name="attachment"),
    path("<int:pk>/attachments/<int:attachment_pk>/delete/", views.attachment_delete,
         name="attachment_delete"),
]
