"""The action server: thin custom actions per business topic, over typed backend clients."""
