"""Roleplay's browser client: one HTML page, a style sheet and vanilla ES modules, served by the server.

No build step, no third-party code, no CDN: everything the browser loads comes from this
package (``static/``) and the page is rendered from ``templates/index.html``.
"""
