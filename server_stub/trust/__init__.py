"""Trust: the certificate authority, request signatures and agent enrolment."""
