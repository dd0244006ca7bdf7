"""The composition root: the manifest of services, the ``pspx`` CLI, the embedded stack
and the generated documents. The only code that knows every service."""
