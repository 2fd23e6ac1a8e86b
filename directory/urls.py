from django.urls import path

from directory import views

app_name = "directory"
urlpatterns = [
    path("lookup/", views.lookup, name="lookup"),
    path("buyers/", views.buyers, name="buyers"),
    path("buyers/<int:pk>/", views.buyer_detail, name="buyer_detail"),
    path("buyers/<int:pk>/services/", views.service_add, name="service_add"),
    path("buyers/<int:pk>/register/", views.buyer_register, name="buyer_register"),
]
