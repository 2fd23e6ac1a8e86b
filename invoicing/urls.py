from django.urls import path

from invoicing.views import invoice_form, invoices

app_name = "invoicing"
urlpatterns = [
    path("", invoices.invoice_list, name="list"),
    path("export.csv", invoices.invoice_export, {"file_format": "csv"}, name="export_csv"),
    path("export.xlsx", invoices.invoice_export, {"file_format": "xlsx"}, name="export_xlsx"),
    path("new/", invoice_form.invoice_create, name="create"),
    path("send/", invoices.invoice_bulk_send, name="bulk_send"),
    path("form/totals/", invoice_form.invoice_form_totals, name="form_totals"),
    path("form/line/", invoice_form.invoice_form_line, name="form_line"),
    path("form/routing/", invoice_form.invoice_form_routing, name="form_routing"),
    path("<int:pk>/", invoices.invoice_detail, name="detail"),
    path("<int:pk>/edit/", invoice_form.invoice_edit, name="edit"),
    path("<int:pk>/discard/", invoice_form.draft_discard, name="discard"),
    path("<int:pk>/send/", invoices.invoice_send, name="send"),
    path("<int:pk>/progress/", invoices.invoice_progress, name="progress"),
    path("<int:pk>/print/", invoices.invoice_print, name="print"),
    path("<int:pk>/legal/", invoices.invoice_legal_view, name="legal_view"),
    path("<int:pk>/legal.xml", invoices.invoice_legal_xml, name="legal_xml"),
    path("<int:pk>/invoice.pdf", invoices.invoice_pdf, name="pdf"),
    path("<int:pk>/fix/", invoices.invoice_fix, name="fix"),
    path("<int:pk>/credit-note/", invoices.invoice_credit_note, name="credit_note"),
    path("<int:pk>/credited/", invoices.credit_note_edit, name="credit_note_edit"),
    path("<int:pk>/replace/", invoices.invoice_replace, name="replace"),
    path("<int:pk>/copy/", invoices.invoice_copy, name="copy"),
    path("<int:pk>/attachments/", invoice_form.attachment_add, name="attachment_add"),
    path("<int:pk>/attachments/<int:attachment_pk>/", invoices.attachment_download,
         name="attachment"),
    path("<int:pk>/attachments/<int:attachment_pk>/delete/", invoice_form.attachment_delete,
         name="attachment_delete"),
]
