"""Federated training across synthetic edge clients, on Flower."""
