from django.urls import path

from finance import views

app_name = "finance"
urlpatterns = [
    path("archive/", views.archive_list, name="archive"),
    path("archive/<int:pk>.xml", views.archive_download, name="archive_download"),
    path("archive/<int:pk>.pdf", views.archive_pdf, name="archive_pdf"),
    path("archive.zip", views.archive_zip, name="archive_zip"),
    path("worklist/", views.worklist, name="worklist"),
    path("ageing/", views.ageing, name="ageing"),
    path("balance/", views.balance, name="balance"),
    path("buyers/", views.buyer_figures, name="buyer_figures"),
    path("buyers/<int:pk>/transfer/", views.buyer_transfer, name="buyer_transfer"),
    path("books/", views.books_export, name="books"),
    path("statements/", views.statements, name="statements"),
    path("invoices/<int:pk>/payments/", views.invoice_payments, name="invoice_payments"),
    path("payments/<int:pk>/reverse/", views.payment_reverse, name="payment_reverse"),
    path("invoices/<int:pk>/reminder/", views.invoice_reminder, name="invoice_reminder"),
]
