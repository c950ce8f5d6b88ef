"""shuangsui: open, verifiable draws for 双随机、一公开 safety inspections."""

__version__ = "0.1.0"
