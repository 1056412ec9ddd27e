"""The agent console's services: accounts and sign-in, mail, and the desk where agents work."""
