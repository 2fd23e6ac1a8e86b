from django.urls import path

from invoicing import finance

app_name = "finance"
urlpatterns = [
    path("archive/", finance.archive_list, name="archive"),
    path("archive/<int:pk>.xml", finance.archive_download, name="archive_download"),
    path("archive.zip", finance.archive_zip, name="archive_zip"),
    path("worklist/", finance.worklist, name="worklist"),
    path("ageing/", finance.ageing, name="ageing"),
]
