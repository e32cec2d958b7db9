type alias {{ name }} =
{% if fields.is_empty() %}    {{ empty }}
{% else %}{% for f in fields %}    {% if loop.first %}{{ "{" }}{% else %},{% endif %} {{ f.0 }} : {{ f.1 }}
{% endfor %}    }
{% endif %}
