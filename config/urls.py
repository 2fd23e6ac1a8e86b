from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from core import health
from invoicing.views import invoices, webhooks

urlpatterns = [
    path("", invoices.home, name="home"),
    path("news/read/", invoices.news_read, name="news_read"),
    path("health/", health.health, name="health"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("invoices/", include("invoicing.urls")),
    path("finance/", include("finance.urls")),
    path("directory/", include("directory.urls")),
    path("exports/", include("core.urls")),
    path("webhooks/b2brouter/", webhooks.b2brouter_webhook, name="b2brouter_webhook"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
