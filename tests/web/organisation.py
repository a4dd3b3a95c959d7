"""The organisation the HTTP tests run against: two faculties, their deans and PMs, offices, a committee."""

from __future__ import annotations

PASSWORD = "correct horse battery"

ORG = f"""
units:
  - {{key: northern, name: Northern College, kind: institution}}
  - {{key: business, name: Faculty of Business, kind: faculty, parent: northern}}
  - {{key: logistics, name: School of Logistics, kind: department, parent: business}}
  - {{key: health, name: Faculty of Health, kind: faculty, parent: northern}}
users:
  - {{username: admin, name: Admin, admin: true, password: "{PASSWORD}"}}
  - {{username: dean.business, name: Dean of Business, password: "{PASSWORD}", roles: [{{role: dean, unit: business}}]}}
  - {{username: dean.health, name: Dean of Health, password: "{PASSWORD}", roles: [{{role: dean, unit: health}}]}}
  - {{username: pm.business, name: PM Business, password: "{PASSWORD}",
     roles: [{{role: project_manager, unit: business}}, {{role: initiative_lead, unit: business}}]}}
  - {{username: pm.health, name: PM Health, password: "{PASSWORD}",
     roles: [{{role: project_manager, unit: health}}, {{role: initiative_lead, unit: health}}]}}
  - {{username: registrar, name: Registrar, password: "{PASSWORD}", roles: [{{role: registrar, unit: northern}}]}}
  - {{username: qa, name: QA Office, password: "{PASSWORD}", roles: [{{role: qa_office, unit: northern}}]}}
  - {{username: council.a, name: Council A, roles: [{{role: academic_governance, unit: northern}}]}}
  - {{username: council.b, name: Council B, roles: [{{role: academic_governance, unit: northern}}]}}
  - {{username: council.c, name: Council C, roles: [{{role: academic_governance, unit: northern}}]}}
  - {{username: sme, name: SME, roles: [{{role: sme, unit: northern}}]}}
  - {{username: engage, name: Engagement lead, roles: [{{role: employer_engagement_lead, unit: northern}}]}}
  - {{username: acting.dean, name: Acting Dean, password: "{PASSWORD}"}}
  - {{username: outsider, name: Nobody in particular, password: "{PASSWORD}"}}
"""
