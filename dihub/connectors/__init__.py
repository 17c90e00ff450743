"""Connector plugins, registered under the entry-point group `dihub.connectors`."""
