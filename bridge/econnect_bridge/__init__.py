"""econnect-bridge: camera snapshots on MQTT in, eConnect Identities recognitions out."""

__version__ = "0.1.0"
