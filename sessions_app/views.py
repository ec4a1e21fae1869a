"""Back-office pages: register operations. (Placeholder; being built.)"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def registers(request):
    return HttpResponse("registers")
