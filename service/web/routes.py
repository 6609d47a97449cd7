"""The moderators' dashboard, as one piece the app installs: its routers, static files and error answers.

Server-rendered with Jinja2 (service/web/responses.py); static files are served from the package and nothing
is fetched from elsewhere. login.py holds the login and logout, pages.py the pages and their forms.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from service.web import demo, login, pages, statements, suggestions, teach, webhooks
from service.web.errors import install_error_handlers
from service.web.responses import WEB_DIR

router = APIRouter()
router.include_router(login.router)
router.include_router(pages.router)
router.include_router(suggestions.router)
router.include_router(statements.router)  # the statement of reasons' page and export (issue 14)
# The commenter's widget and its demo page (issue 14).
router.include_router(demo.router)
router.include_router(webhooks.router)
router.include_router(teach.router)  # moderators teach the word list (issue 11, item 7)


def install(app: FastAPI) -> None:
    """Serve the dashboard under /dashboard from `app`."""
    app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=WEB_DIR / "static"), name="dashboard_static")
    install_error_handlers(app)
