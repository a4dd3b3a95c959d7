"""What people do (each action one transaction) and what they see; who may do it."""
