"""The web catalog: server-rendered HTML pages, each also served as markdown at the same path + ``.md``.

``routes.web_routes()`` gives the Starlette routes; ``render.render_page`` renders one page in the form the path asks
for. Templates live in ``web/templates`` (``NAME.html`` and ``NAME.md``), assets in ``web/static`` (served from the
package at ``/static``; nothing is loaded from another host).
"""
