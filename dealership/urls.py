"""The site's URLs: pages of each app, the REST API under /api/, the admin for superusers."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dealership import audit_views, views
from dealership.security import ThrottledLoginView

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("language/", views.language_set, name="language"),
    path("health/", views.health, name="health"),
    path("audit/", audit_views.audit_trail, name="audit"),
    path("customers/", include("customers.urls")),
    path("sales/", include("sales.urls")),
    path("aftersales/", include("aftersales.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("kpis/", include("kpis.urls")),
    path("imports/", include("imports.urls")),
    path("plans/", include("plans.urls")),
    path("api/", include("dealership.api_urls")),
    path("admin/", admin.site.urls),
]
