"""Staff two-factor: TOTP (django-otp) before any admin page, with one-time recovery codes.

Staff members and superusers must enrol an authenticator app and then
verify a code in every sign-in session before the admin (key, audit and
user administration, the status page) serves them. ``SECUREMSG_STAFF_OTP_REQUIRED``
(default on) switches the requirement. See docs/security.md.
"""
