"""The dashboard's templates, static files and server-side chart geometry."""
