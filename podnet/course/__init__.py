"""The course: lab files, the lab runner and the checks that grade a student's lab."""
