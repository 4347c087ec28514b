"""Report: static figures, the HTML study report and the interactive explorer."""
