"""SCIM 2.0 provisioning (RFC 7643/7644) as Microsoft Entra ID speaks it: /scim/v2/{org}/..."""
