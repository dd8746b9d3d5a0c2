"""The one exception the command line turns into a message and an exit code."""


class CliError(Exception):
    """Bad input from the user: printed as 'error: <message>', never as a traceback."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
