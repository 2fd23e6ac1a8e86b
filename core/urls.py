from django.urls import path

from core import views

app_name = "core"
urlpatterns = [
    path("", views.export_list, name="export_list"),
    path("new/", views.export_create, name="export_create"),
    path("<int:pk>/", views.export_detail, name="export_detail"),
    path("<int:pk>/file/", views.export_download, name="export_download"),
]
