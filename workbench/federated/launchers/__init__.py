"""workbench/federated/launchers"""
