"""Employee photos for signatures: checked, made small, and served at addresses mail recipients can load.

- ``image``: a photo as received (from Microsoft 365 or an admin's upload) is checked — JPEG, PNG or GIF
  by its bytes, not its name, at most 4 MB, its size read from the header before any pixel is decoded, then
  decoded in full to prove it — and made the signature image: at most 648 × 648, JPEG, no metadata.
- ``store``: which photo an employee shows (an admin's upload wins over Microsoft 365's until given back),
  the stable, unguessable address it is served at, and the address a signature's ``{{ photo_url }}`` gets.
"""
