"""Customers: identity by BSUID or phone number, and the customers API."""
