"""The reference app's two tables (created by bench.reference.TABLES, not migrated)."""

from django.db import models


class Register(models.Model):
    token = models.TextField(unique=True)
    name = models.TextField()
    sales = models.IntegerField(default=0)

    class Meta:
        managed = False
        db_table = "bench_ref_register"

    def __str__(self) -> str:
        return self.name


class Sale(models.Model):
    id = models.BigAutoField(primary_key=True)
    register = models.ForeignKey(Register, on_delete=models.PROTECT)
    kind = models.TextField()
    payment_method = models.TextField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    idempotency_key = models.TextField(null=True)  # noqa: DJ001 (a header may be absent)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        managed = False
        db_table = "bench_ref_sale"

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"
