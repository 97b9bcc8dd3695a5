"""The admin console (``/admin``): server-rendered pages for staff, on the storefront's foundation.

One module per area (``auth.py`` logs in and out, ``dashboard.py``, ...). Each is a router of thin
routes: parse the form or query, call one service with the principal, render one template. See
ADR 0012 for the design (sessions, CSRF, how pages get their principal, progressive enhancement).

How to add an admin page
------------------------

1. Write ``web/admin/<area>.py``::

       from fastapi import APIRouter, Request
       from starlette.responses import HTMLResponse, Response

       from shelf.web.admin.guard import AdminRoute, requires
       from shelf.web.admin.rendering import render, see_other

       router = APIRouter(route_class=AdminRoute, include_in_schema=False,
                          default_response_class=HTMLResponse)
       FlagReader = Annotated[Principal, Depends(requires(Permission.FLAGS_READ))]

       @router.get("/admin/flags")
       async def flags(request: Request, principal: FlagReader) -> Response:
           found = await request.app.state.container.flags.list(principal)
           return render(request, "admin/flags/list.html", {"flags": found})

   Every route takes a guard: ``requires(permission)`` gives the route the caller's ``Principal``,
   sends anonymous visitors to ``/admin/login?next=<path>`` (303) and refuses callers without the
   permission with the console's 403 page. Check permissions, never role names; the service
   checks them again. ``AdminRoute`` is needed for the login redirect (and gives the 500 page).
   Forms post to the console itself and end with ``see_other(url)`` (Post/Redirect/Get), or
   re-render the form with the service's errors next to each field (status 422).
2. Register the router in ``ROUTERS`` of ``web/admin/install.py`` and, if it is an area of its own,
   one ``NavEntry(label, href, permission, description)`` line in ``NAV`` of ``web/admin/nav.py``:
   the navigation and the dashboard show it to those who hold the permission, and nobody else.
3. The template extends ``admin/layout.html`` and fills ``admin_title`` and ``main``; forms carry
   ``{{ forms.csrf_field(csrf_token) }}`` (the session's CSRF token, which the gateway checks on
   every state-changing request made with the session cookie; urlencoded forms only, or send it
   as ``X-CSRF-Token``). Use the macros of ``templates/components/``; styles go to
   ``static/css/admin.css`` (or a file of the area's own, linked from its template's ``head``
   block), scripts only enhance: every page must work with JavaScript off.
4. Declare each new route in ``tests/security/test_authorization_matrix.py`` (``LOGIN`` is the
   anonymous outcome of a console page) and in the route inventory of
   ``tests/security/test_api9_improper_inventory_management.py``.
"""
