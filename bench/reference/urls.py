from django.urls import path

from bench.reference.views import SaleView, healthz

urlpatterns = [
    path("healthz", healthz),
    path("api/v1/transactions/", SaleView.as_view()),
]
