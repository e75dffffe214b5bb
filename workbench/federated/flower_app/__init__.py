"""The workbench's federated apps packaged as a Flower app, for ``flwr run`` against a SuperLink.

This folder is the app: ``pyproject.toml`` names the components (the ServerApp in
:mod:`.server_app`, the ClientApp of :mod:`workbench.federated.apps`) and holds the run config's
defaults, written from :class:`~workbench.federated.config.FedConfig` by
:func:`workbench.federated.launchers.deployment.write_app`. Every machine that runs a SuperLink or a
SuperNode needs the ``workbench`` package installed: the app refers to it, it does not carry it.
"""
