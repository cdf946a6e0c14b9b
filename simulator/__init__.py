"""A local Microsoft 365 (Entra ID sign-in + Microsoft Graph v1.0) for tests, demos and benchmarks.

In code::

    with SimulatorServer(Simulator(SimulatorSettings(users=2000))) as server:
        server.authority, server.graph_url, server.ca_path, server.env()

From a shell: ``python -m simulator --users 2000 --port 8443`` prints the ``export`` lines that
point the portal at it. SimulatorServer lives in simulator.server, the settings in simulator.state.
"""
