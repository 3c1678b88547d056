"""Household follow-up (ติดตามครัวเรือนเป้าหมาย): cases, plans, assistance, missed households,
progress and evaluation. Pure core: no Flask, no click (routes in service.api.cases, use
cases in service.usecases.cases)."""
