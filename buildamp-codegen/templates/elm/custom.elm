type {{ name }}
{% for c in constructors %}    {% if loop.first %}={% else %}|{% endif %} {{ c.0 }}{% if !c.1.is_empty() %} {{ c.1 }}{% endif %}
{% endfor %}{% for f in record_fields %}        {% if loop.first %}{{ "{" }}{% else %},{% endif %} {{ f.0 }} : {{ f.1 }}
{% endfor %}{% if !record_fields.is_empty() %}        }
{% endif %}
