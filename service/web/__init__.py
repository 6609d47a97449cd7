"""The moderators' dashboard: server-rendered pages on the JSON API's dependencies.

routes.py     the routers gathered, and install(app): routes, static files, error answers
login.py      /dashboard/login and /dashboard/logout
pages.py      the overview, the rejections, the review queue and their forms
deps.py       PageSession, CheckedForm, ...: what a page's signature asks for
errors.py     LoginRequired and CsrfRefused, and how the dashboard answers them
responses.py  templates, render(), redirects that stay on the site
demo.py       the commenter's widget (/widget.js, /widget.css from widget/) and its demo page, /demo
charts.py, highlight.py, templates/, static/   what the pages are drawn with
"""
