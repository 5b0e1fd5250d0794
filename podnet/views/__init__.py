"""What people read: kubectl-shaped tables and JSON, describe, the matrix grid, diagrams."""
