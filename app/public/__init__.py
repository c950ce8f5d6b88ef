"""What the public reads: disclosure pages (Chinese, server-rendered, no login)."""
