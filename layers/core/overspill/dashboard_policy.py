"""What the dashboard may load, as one Content-Security-Policy: sent by CloudFront on AWS (infra/components/web.py)
and by ``overspill dev`` locally, so the browser tests run the app under the policy it is deployed with."""

from __future__ import annotations


def content_security_policy(cognito_origin: str) -> str:
    """The built dashboard's own files, its own origin's API, and Cognito's sign-in endpoint (AWS's regional one,
    or the local emulator's). Styles may also be inline (UI libraries set them; a style cannot run script); data:
    URLs are Vite's inlined small images and fonts."""
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        f"connect-src 'self' {cognito_origin}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])
