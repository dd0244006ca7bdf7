"""The gateway's browser assets: files from npm packages, copied to static/ at build time."""
